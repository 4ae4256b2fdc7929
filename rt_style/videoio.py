"""Video files through PyAV (FFmpeg), no torch.

Reading gives batches of BGR frames (the model's layout) with their timestamps; writing encodes
the stylized frames with the input's timestamps, frame rate, rotation (display matrix) and colour
tags, and copies every other stream (audio, subtitles, data) packet for packet. Colour
conversion uses the input's own matrix and range both ways, so colours survive the round trip.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import Interpolation as Interp

from rt_style.errors import UserError
from rt_style.scaling import frame_sizes

VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts",
                  ".mts", ".m2ts", ".wmv", ".flv", ".3gp", ".ogv")
# Containers we write, by suffix. Other inputs get .mkv, which holds almost any audio codec.
CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska",
              ".webm": "webm", ".avi": "avi", ".ts": "mpegts"}
KEPT_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv")
CODEC_ALIASES = {"h264": "libx264", "x264": "libx264", "nvenc": "h264_nvenc",
                 "hevc": "libx265", "h265": "libx265", "vp9": "libvpx-vp9"}
CRF_OPTION = {"libx264": "crf", "libx264rgb": "crf", "libx265": "crf", "libvpx-vp9": "crf",
              "libvpx": "crf", "libaom-av1": "crf", "libsvtav1": "crf",
              "h264_nvenc": "cq", "hevc_nvenc": "cq", "av1_nvenc": "cq"}
# swscale's default YUV↔RGB path truncates: a round trip darkens by about 1 level in 255.
# Accurate rounding with full chroma interpolation makes it unbiased (mean error < 0.01).
TO_BGR = Interp.ACCURATE_RND | Interp.FULL_CHR_H_INT
FROM_BGR = Interp.BILINEAR | Interp.ACCURATE_RND | Interp.FULL_CHR_H_INP
IMAGE_DEMUXERS = ("image2", "png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe", "tiff_pipe")
# Video stream tags that describe the old encoding, not the new one.
STALE_TAGS = ("encoder", "rotate", "duration", "DURATION", "BPS", "NUMBER_OF_FRAMES",
              "NUMBER_OF_BYTES", "_STATISTICS_TAGS", "_STATISTICS_WRITING_APP")


class DecodeError(UserError):
    """The input stopped decoding part-way; the frames before it are good."""

    def __init__(self, path, frames_done: int, error: Exception):
        reason = getattr(error, "strerror", None) or str(error)
        super().__init__(f"{path}: undecodable data after {frames_done} frames ({reason})")
        self.frames_done = frames_done


class TruncatedError(DecodeError):
    """The input ends before the frames its header lists: the file was cut short."""

    def __init__(self, path, frames_done: int, expected: int):
        UserError.__init__(self, f"{path} ends after {frames_done} of the {expected} frames its "
                                 "header lists: the file is cut short (truncated)")
        self.frames_done = frames_done


def output_name(path: Path) -> str:
    """An output's file name in a folder: the input's, as .mkv if we do not write its suffix."""
    suffix = path.suffix.lower()
    return path.name if suffix in KEPT_SUFFIXES else path.stem + ".mkv"


def container_format(path: Path) -> str:
    """The FFmpeg muxer for an output path, from its suffix."""
    fmt = CONTAINERS.get(Path(path).suffix.lower())
    if fmt is None:
        raise UserError(f"cannot write video to {path}: use a .mp4, .mov or .mkv file name "
                        f"(known: {', '.join(CONTAINERS)})")
    return fmt


def open_input(path: Path):
    """An FFmpeg input container with a video stream, or a one-line reason why not."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no such file: {path}")
    try:
        container = av.open(str(path), metadata_errors="replace")
    except av.error.FFmpegError as e:
        raise UserError(f"{path} is not a video FFmpeg can read ({e.strerror})") from None
    if container.format.name in IMAGE_DEMUXERS:
        container.close()
        raise UserError(f"{path} is an image, not a video: use `rtstyle image`")
    if not container.streams.video:
        kinds = ", ".join(sorted({s.type for s in container.streams})) or "no streams"
        container.close()
        raise UserError(f"{path} has no video stream ({kinds})")
    return container


def main_video_stream(container):
    """The video to stylize: the first video stream that is not cover art or a thumbnail."""
    still = av.stream.Disposition.attached_pic | av.stream.Disposition.timed_thumbnails
    moving = [s for s in container.streams.video if not s.disposition & still]
    return (moving or list(container.streams.video))[0]


@dataclass
class Chunk:
    """Up to --batch consecutive frames, and the other streams' packets read alongside them."""

    first: int                      # index of the first frame in the video
    frames: np.ndarray | None       # N×H×W×3 uint8 BGR
    pts: list = field(default_factory=list)
    durations: list = field(default_factory=list)
    times: list = field(default_factory=list)  # seconds since the first frame
    packets: list = field(default_factory=list)


@dataclass
class FirstFrame:
    """What the output copies from the decoded input: colour tags and display matrix."""

    width: int
    height: int
    rotation: int
    matrix: list | None
    color_range: int
    colorspace: int
    color_primaries: int
    color_trc: int
    pts: int | None


class VideoReader:
    """Decode the input's main video stream into Chunks of BGR frames at the output size."""

    def __init__(self, path: Path, batch: int = 1, size: str | None = None,
                 scale: float | None = None, pix_fmt: str = "yuv420p", log=print,
                 keep_scaled: bool = False):
        self.path, self.batch, self.size, self.scale, self.log = Path(path), batch, size, scale, log
        self.keep_scaled = keep_scaled
        self.container = open_input(path)
        self.stream = main_video_stream(self.container)
        self.header_frames = self.stream.frames or 0  # what the index lists (MP4/MOV), or 0
        self.stream.thread_type = "AUTO"
        fmt = av.VideoFormat(pix_fmt)
        self.even = (fmt.chroma_width(2) < 2, fmt.chroma_height(2) < 2)
        self.pix_fmt = pix_fmt
        self.first: FirstFrame | None = None
        self.frames_done = 0

    @property
    def rate(self):
        return self.stream.average_rate or self.stream.guessed_rate or 25

    @property
    def expected_frames(self) -> int | None:
        """Frames in the video (from the header, else duration × rate), for progress bars."""
        if self.stream.frames:
            return self.stream.frames
        if self.stream.duration and self.stream.time_base:
            return round(float(self.stream.duration * self.stream.time_base * self.rate))
        if self.container.duration:
            return round(self.container.duration / av.time_base * float(self.rate))
        return None

    def chunks(self):
        """Yield Chunks until the end of the input; raise DecodeError if it breaks off."""
        chunk = Chunk(0, None)
        frames = []
        packets = 0
        for packet in self._packets():
            if packet.stream is not self.stream:
                if packet.dts is not None:
                    chunk.packets.append(packet)
                continue
            packets += packet.size > 0
            for frame in self._decode(packet):
                frames.append(self._convert(frame, chunk))
                if len(frames) == self.batch:
                    chunk.frames = np.stack(frames)
                    yield chunk
                    chunk, frames = Chunk(self.frames_done, None), []
        if not self.frames_done:
            raise UserError(f"{self.path} has no decodable video frames")
        if frames:
            chunk.frames = np.stack(frames)
        yield chunk
        if packets < self.header_frames:  # the demuxer ran out of file before its index did
            raise TruncatedError(self.path, self.frames_done, self.header_frames)

    def close(self):
        self.container.close()

    def _packets(self):
        it = self.container.demux()
        while True:
            try:
                packet = next(it)
            except StopIteration:
                return
            except av.error.FFmpegError as e:
                raise DecodeError(self.path, self.frames_done, e) from None
            yield packet

    def _decode(self, packet):
        try:
            return packet.decode()
        except av.error.FFmpegError as e:
            raise DecodeError(self.path, self.frames_done, e) from None

    def _convert(self, frame, chunk: Chunk) -> np.ndarray:
        if self.first is None:
            self._setup(frame)
        scaled, crop = self.geometry
        img = frame.to_ndarray(format="bgr24", width=scaled[0], height=scaled[1],
                               src_color_range=frame.color_range or None,
                               interpolation=self.interpolation)
        if crop != scaled:
            img = img[:crop[1], :crop[0]]
        pts = frame.pts
        tb = frame.time_base or self.stream.time_base
        if pts is None or self.first.pts is None or tb is None:
            t = self.frames_done / float(self.rate)
        else:
            t = float((pts - self.first.pts) * tb)
        chunk.pts.append(pts)
        chunk.durations.append(frame.duration or None)
        chunk.times.append(t)
        self.frames_done += 1
        return img

    def _setup(self, frame):
        """Fix the output geometry from the first frame: --size/--scale apply to the frame as
        displayed (after rotation), and 4:2:0 output needs even sides. Frames are decoded
        straight to the size the network works at; when that is not the output's (--scale),
        `resize_back` says the stylized frames must be resized to it."""
        sd = frame.side_data.get(av.sidedata.sidedata.Type.DISPLAYMATRIX)
        matrix = np.frombuffer(bytes(sd), np.int32).tolist() if sd is not None else None
        rotation = int(frame.rotation or 0) if sd is not None else 0
        w, h = frame.width, frame.height
        turned = abs(rotation) % 180 == 90
        (tw, th), (ww, wh) = frame_sizes(*((h, w) if turned else (w, h)), self.size,
                                         self.scale, self.keep_scaled)
        if turned:
            tw, th, ww, wh = th, tw, wh, ww
        ew = max(2, tw - tw % 2) if self.even[0] else tw
        eh = max(2, th - th % 2) if self.even[1] else th
        if (ew, eh) != (tw, th):
            self.log(f"note: {self.pix_fmt} needs even sides: {tw}×{th} becomes {ew}×{eh} "
                     "(--pix-fmt yuv444p keeps odd sizes)")
        if (ww, wh) != (tw, th):  # stylized at another size, resized back to (ew, eh)
            self.geometry = (ww, wh), (ww, wh)
        else:
            resize = (tw, th) != (w, h) or ew > w or eh > h
            self.geometry = ((ew, eh) if resize else (w, h)), (ew, eh)
        self.resize_back = self.geometry[1] != (ew, eh)
        cw, ch = self.geometry[1]
        self.interpolation = (Interp.AREA if cw * ch < w * h else Interp.BICUBIC) | TO_BGR
        self.first = FirstFrame(ew, eh, rotation, matrix, int(frame.color_range),
                                int(frame.colorspace), int(frame.color_primaries),
                                int(frame.color_trc), frame.pts)


@dataclass
class Encoding:
    """The video encoder and its settings, checked before any work starts."""

    codec: str = "libx264"
    crf: float | None = None
    bitrate: str | None = None
    preset: str | None = None
    pix_fmt: str = "yuv420p"

    def __post_init__(self):
        name = CODEC_ALIASES.get(self.codec.lower(), self.codec)
        try:
            codec = av.Codec(name, "w")
        except ValueError:  # av's UnknownCodecError is one
            raise UserError(f"unknown video encoder {self.codec!r}: try libx264 (the default), "
                            "h264_nvenc (NVIDIA GPUs) or libvpx-vp9") from None
        if codec.type != "video":
            raise UserError(f"{codec.name} is an {codec.type} encoder, not a video one")
        self.codec = codec.name
        formats = [f.name for f in codec.video_formats or []]
        if formats and self.pix_fmt not in formats:
            raise UserError(f"{codec.name} cannot encode {self.pix_fmt}: choose one of "
                            f"{', '.join(formats)}")
        if self.crf is not None and self.codec not in CRF_OPTION:
            raise UserError(f"--crf is not supported by {self.codec}: use --bitrate")
        if self.crf is not None and self.bitrate:
            raise UserError("give --crf or --bitrate, not both")
        if self.bitrate:
            self.bit_rate = parse_bitrate(self.bitrate)

    def options(self) -> dict:
        opts = {}
        if self.crf is not None:
            opts[CRF_OPTION[self.codec]] = f"{self.crf:g}"
            if self.codec.endswith("_nvenc"):
                opts["rc"] = "vbr"
        if self.preset:
            opts["preset"] = self.preset
        return opts


def parse_bitrate(text: str) -> int:
    """'4M', '800k', '2500000' → bits per second."""
    t = str(text).strip().lower()
    mult = {"k": 1e3, "m": 1e6, "g": 1e9}.get(t[-1:], 1)
    try:
        value = float(t[:-1] if mult != 1 else t) * mult
    except ValueError:
        value = 0
    if value <= 0:
        raise UserError(f"cannot read bitrate {text!r}: give e.g. 4M or 800k")
    return int(value)


def can_copy(path: Path, index: int, fmt: str, probe_packets: int = 1000) -> bool:
    """Whether FFmpeg's `fmt` muxer takes input stream `index` as is: a dry run in memory with
    its first packets, header to trailer (some muxers accept a stream's header, then fail on its
    packets or at the trailer, e.g. a timecode track in MP4/MOV)."""
    with av.open(str(path), metadata_errors="replace") as inp:
        stream = inp.streams[index]
        packets = []
        for i, p in enumerate(inp.demux()):
            if p.stream.index == index and p.dts is not None:
                packets.append(p)
            if len(packets) == 2 or i >= probe_packets:
                break
        out = av.open(io.BytesIO(), "w", format=fmt)
        try:
            copy = out.add_stream_from_template(stream)
            out.start_encoding()
            for p in packets:
                p.stream = copy
                out.mux(p)
            out.close()
            return True
        except (av.error.FFmpegError, ValueError, TypeError):
            try:
                out.close()
            except (av.error.FFmpegError, ValueError):
                pass
            return False


class VideoWriter:
    """Encode stylized Chunks into `path` and copy the input's other streams beside them.

    Other streams' packets wait until the video has reached their time, so an output cut short
    (Ctrl-C, a decode error) ends all its streams together."""

    def __init__(self, path: Path, fmt: str, encoding: Encoding, name=None, log=print):
        self.path, self.fmt, self.encoding, self.log = Path(path), fmt, encoding, log
        self.name = name or self.path  # what messages call the output
        self.out = None
        self.frames = 0
        self.last_pts = None
        self.pending: list = []
        self.copies: dict = {}
        self.video_end = float("-inf")

    def open(self, reader: VideoReader):
        """Create the output from the input's streams and its first decoded frame."""
        first, src = reader.first, reader.stream
        try:
            self.out = av.open(str(self.path), "w", format=self.fmt)
        except av.error.FFmpegError as e:
            raise UserError(f"cannot write {self.name}: {e.strerror}") from None
        self.out.metadata.update({k: v for k, v in reader.container.metadata.items()
                                  if k not in STALE_TAGS})
        v = self.out.add_stream(self.encoding.codec, rate=reader.rate)
        v.width, v.height, v.pix_fmt = first.width, first.height, self.encoding.pix_fmt
        v.time_base = src.time_base
        v.codec_context.time_base = src.time_base
        cc = v.codec_context
        cc.color_range, cc.colorspace = first.color_range, first.colorspace
        cc.color_primaries, cc.color_trc = first.color_primaries, first.color_trc
        if src.sample_aspect_ratio:
            v.sample_aspect_ratio = src.sample_aspect_ratio
        if first.matrix:
            v.set_display_matrix(first.matrix)
        v.metadata.update({k: val for k, val in src.metadata.items() if k not in STALE_TAGS})
        if self.encoding.bitrate:
            cc.bit_rate = self.encoding.bit_rate
        v.options = self.encoding.options()
        self.video = v
        for s in reader.container.streams:
            if s is src:
                continue
            if can_copy(reader.path, s.index, self.fmt):
                self.copies[s.index] = self.out.add_stream_from_template(s)
            else:
                kept = " (its timecode stays on the video track)" if (
                    s.type == "data" and "timecode" in s.metadata
                    and "timecode" in v.metadata and self.fmt in ("mp4", "mov")) else ""
                self.log(f"note: {reader.path} stream #{s.index} ({s.type}) cannot go into "
                         f"{self.fmt}: skipped{kept}")
        try:
            self.out.start_encoding()
        except (av.error.FFmpegError, ValueError) as e:
            msg = getattr(e, "strerror", None) or str(e)
            nvenc = "nvenc" in self.encoding.codec
            hint = " (NVENC needs an NVIDIA GPU and driver)" if nvenc else ""
            raise UserError(f"cannot start {self.encoding.codec} into {self.fmt} at "
                            f"{first.width}×{first.height}: {msg}{hint}") from None
        self.tb = src.time_base
        self.rate = reader.rate
        self.first = first

    def write(self, chunk: Chunk):
        """Encode a chunk's frames, then mux the other packets the video has caught up with."""
        self.pending += [p for p in chunk.packets if p.stream.index in self.copies]
        with self._errors():
            for img, pts, dur in zip(chunk.frames if chunk.frames is not None else [],
                                     chunk.pts, chunk.durations):
                self._encode(img, pts, dur)
            self._mux_pending(self.video_end)

    def finish(self, complete: bool):
        """Flush the encoder and close the file; when cut short, drop packets past the video."""
        with self._errors():
            self._mux(self.video.encode(None))
            self._mux_pending(float("inf") if complete else self.video_end)
            self.out.close()

    def _encode(self, img: np.ndarray, pts, duration):
        f0, tb, step = self.first, self.tb, 1 / float(self.rate) / float(self.tb)
        frame = av.VideoFrame.from_ndarray(img, format="bgr24").reformat(
            format=self.encoding.pix_fmt, dst_colorspace=f0.colorspace or None,
            dst_color_range=f0.color_range or None, interpolation=FROM_BGR)
        if pts is None:  # raw streams without timestamps: the frame's index at the rate
            pts = round(self.frames * step)
        if self.last_pts is not None and pts <= self.last_pts:  # encoders refuse repeats
            pts = self.last_pts + 1
        frame.pts, frame.time_base = pts, tb
        frame.duration = duration or max(1, round(step))
        self._mux(self.video.encode(frame))
        self.frames += 1
        self.last_pts = pts
        self.video_end = max(self.video_end, float((pts + frame.duration) * tb))

    @contextlib.contextmanager
    def _errors(self):
        """FFmpeg failures while writing (disk full, a muxer refusing a packet) in one line."""
        try:
            yield
        except av.error.FFmpegError as e:
            raise UserError(f"writing {self.name} failed: {e.strerror or e}") from None

    def abort(self):
        if self.out is not None:
            try:
                self.out.close()
            except (av.error.FFmpegError, ValueError):
                pass

    def _mux(self, packets):
        for p in packets:
            self.out.mux(p)

    def _mux_pending(self, until: float):
        keep = []
        for p in self.pending:
            ts = p.dts if p.dts is not None else p.pts
            if ts is None or float(ts * p.time_base) < until:
                p.stream = self.copies[p.stream.index]
                self.out.mux(p)
            else:
                keep.append(p)
        self.pending = keep
