"""Make the bundled samples: a short clip with a sound track, and a photo.

Everything is drawn and synthesised here (NumPy, OpenCV, PyAV), so the files are ours to
redistribute and anyone can remake them:

    python -m rt_style.samples.make_samples            # writes sample.mp4 and sample.jpg here

The package ships only the photo; `rtstyle video --sample` makes the clip on first use
(rt_style.samples.clip).

The clip imitates a hand-held camera panning over a landscape (sky, sun, hills at three
depths, trees, a bird, a little sensor noise and shake), with a soft chord as its audio; the
photo is a still life on a table. Both stay small (well under 1 MB together).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import av
import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
CLIP_SIZE = (640, 360)  # W×H
CLIP_SECONDS = 4
CLIP_FPS = 25
AUDIO_RATE = 44100


def _vertical_gradient(h, w, top, bottom):
    t = np.linspace(0, 1, h)[:, None, None]
    return np.broadcast_to(np.array(top) * (1 - t) + np.array(bottom) * t, (h, w, 3)).copy()


def _hill(img, base, amp, waves, phase, colour, shade):
    """A ridge line across the frame, filled below with a vertical shade."""
    h, w = img.shape[:2]
    x = np.arange(w)
    y = base + sum(a * np.sin(2 * np.pi * x / p + ph) for a, p, ph in zip(amp, waves, phase))
    rows = np.arange(h)[:, None]
    mask = rows >= y[None, :]
    depth = np.clip((rows - y[None, :]) / (h - y[None, :] + 1e-6), 0, 1)[..., None]
    fill = np.array(colour) * (1 - shade * depth)
    img[mask] = fill[mask]
    return y


def landscape(t: float, rng_noise: np.random.Generator) -> np.ndarray:
    """One frame at time t (s): BGR uint8."""
    w, h = CLIP_SIZE
    pad = 64  # drawn wider than the frame, then cropped: the camera pans and shakes
    W, H = w + 2 * pad, h + 2 * pad
    pan = 30 * t  # pixels/s of the far layer; nearer layers move faster
    img = _vertical_gradient(H, W, (235, 170, 90), (250, 225, 200))  # BGR: blue sky to haze
    sun = (int(W * 0.72 - pan * 0.2), int(H * 0.3))
    cv2.circle(img, sun, 70, (200, 235, 255), -1, cv2.LINE_AA)
    cv2.circle(img, sun, 42, (150, 220, 255), -1, cv2.LINE_AA)
    img = cv2.GaussianBlur(img, (0, 0), 6)
    for k, (cx, cy, s) in enumerate(((0.2, 0.18, 1.0), (0.5, 0.12, 0.7), (0.85, 0.22, 0.9))):
        x = int((cx * W - pan * (0.4 + 0.1 * k)) % (W + 200)) - 100
        for dx, dy, r in ((0, 0, 30), (28, 6, 24), (-28, 8, 22), (12, -12, 22)):
            cv2.ellipse(img, (x + int(dx * s), int(cy * H) + int(dy * s)),
                        (int(r * s * 1.6), int(r * s)), 0, 0, 360, (250, 250, 250), -1,
                        cv2.LINE_AA)
    layers = [  # base, amplitudes, wavelengths, colour (BGR), shade, parallax
        (0.55, (18, 9), (420, 170), (150, 140, 120), 0.3, 0.5),
        (0.68, (22, 10), (300, 130), (70, 130, 80), 0.4, 1.0),
        (0.82, (16, 6), (260, 90), (40, 110, 60), 0.5, 1.8),
    ]
    ridges = []
    for base, amp, waves, colour, shade, par in layers:
        phase = (2 * np.pi * pan * par / waves[0], 2 * np.pi * pan * par / waves[1])
        ridges.append((_hill(img, base * H, amp, waves, phase, colour, shade), par))
    ridge, par = ridges[-1]
    for tx in range(-200, W + 200, 150):  # trees on the nearest ridge
        x = int((tx - pan * par) % (W + 300)) - 150
        if 0 <= x < W:
            y = int(ridge[x])
            cv2.rectangle(img, (x - 4, y - 30), (x + 4, y + 5), (30, 50, 70), -1)
            cv2.circle(img, (x, y - 45), 24, (30, 90, 40), -1, cv2.LINE_AA)
            cv2.circle(img, (x - 10, y - 38), 16, (40, 105, 50), -1, cv2.LINE_AA)
    bx = int(W * 0.15 + 90 * t)  # a bird crossing the sky, flapping
    by = int(H * 0.35 + 12 * np.sin(3 * t))
    flap = int(10 * np.sin(2 * np.pi * 3 * t))
    cv2.polylines(img, [np.array([(bx - 14, by - flap), (bx, by), (bx + 14, by - flap)])],
                  False, (40, 40, 40), 3, cv2.LINE_AA)
    sx = int(pad + 6 * np.sin(2.1 * t) + 3 * np.sin(5.3 * t))  # hand-held shake
    sy = int(pad + 4 * np.sin(1.7 * t + 1) + 2 * np.sin(6.1 * t))
    frame = img[sy:sy + h, sx:sx + w]
    frame = frame + rng_noise.normal(0, 2.5, frame.shape)  # sensor noise
    return np.clip(frame, 0, 255).astype(np.uint8)


def still_life(size=(640, 480)) -> np.ndarray:
    """A table with a vase, fruit and a window behind: BGR uint8."""
    w, h = size
    img = _vertical_gradient(h, w, (150, 175, 195), (110, 140, 165))  # warm wall
    cv2.rectangle(img, (60, 40), (250, 250), (235, 205, 170), -1)  # window, sky
    cv2.rectangle(img, (60, 40), (250, 250), (70, 90, 110), 8)
    cv2.line(img, (155, 40), (155, 250), (70, 90, 110), 6)
    cv2.line(img, (60, 145), (250, 145), (70, 90, 110), 6)
    table = _vertical_gradient(h - 300, w, (60, 95, 140), (35, 60, 95))  # wooden table
    img[300:] = table
    for x in range(0, w, 37):
        cv2.line(img, (x, 300), (x + 60, h), (45, 75, 115), 1, cv2.LINE_AA)
    cv2.ellipse(img, (420, 300), (55, 14), 0, 0, 360, (40, 40, 60), -1, cv2.LINE_AA)  # shadow
    vase = np.array([(380, 300), (372, 230), (395, 180), (400, 130), (440, 130), (445, 180),
                     (468, 230), (460, 300)])
    cv2.fillPoly(img, [vase], (150, 80, 40), cv2.LINE_AA)
    cv2.line(img, (392, 140), (385, 280), (200, 150, 110), 4, cv2.LINE_AA)  # highlight
    for ang, col in ((-20, (60, 60, 220)), (5, (40, 200, 240)), (30, (200, 80, 170))):
        tip = (420 + int(90 * np.sin(np.radians(ang))), 130 - int(90 * np.cos(np.radians(ang))))
        cv2.line(img, (420, 130), tip, (40, 120, 50), 3, cv2.LINE_AA)
        cv2.circle(img, tip, 18, col, -1, cv2.LINE_AA)
        cv2.circle(img, tip, 6, (40, 200, 250), -1, cv2.LINE_AA)
    for (x, y, r, col) in ((200, 360, 34, (40, 60, 200)), (255, 372, 30, (40, 150, 230)),
                           (150, 380, 28, (60, 170, 80)), (520, 380, 36, (30, 100, 210))):
        cv2.ellipse(img, (x + 6, y + r - 4), (r, 8), 0, 0, 360, (30, 45, 70), -1, cv2.LINE_AA)
        cv2.circle(img, (x, y), r, col, -1, cv2.LINE_AA)
        cv2.circle(img, (x - r // 3, y - r // 3), r // 4,
                   tuple(min(255, c + 90) for c in col), -1, cv2.LINE_AA)
    img = cv2.GaussianBlur(img, (0, 0), 0.8)
    noise = np.random.default_rng(1).normal(0, 3, img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8)


def chord(seconds: float, rate: int = AUDIO_RATE) -> np.ndarray:
    """A soft A-major chord with a slow swell: 1×N float32 in [-1, 1]."""
    t = np.arange(int(seconds * rate)) / rate
    tone = sum(np.sin(2 * np.pi * f * t) / (k + 1) for k, f in enumerate((220, 277.18, 329.63)))
    envelope = np.minimum(1, t / 0.3) * np.minimum(1, (seconds - t) / 0.5)
    return (0.15 * tone * envelope * (0.8 + 0.2 * np.sin(2 * np.pi * 0.5 * t)))[None] \
        .astype(np.float32)


def write_clip(path: Path, preset: str = "veryslow") -> None:
    """preset: x264's; the slow one keeps the clip small (68 kB), a fast one makes it in a
    quarter of the time for the cache."""
    rng = np.random.default_rng(0)
    with av.open(str(path), "w", options={"movflags": "+faststart"}) as out:
        v = out.add_stream("libx264", rate=CLIP_FPS)
        v.width, v.height, v.pix_fmt = *CLIP_SIZE, "yuv420p"
        v.options = {"crf": "30", "preset": preset}
        cc = v.codec_context
        cc.color_range, cc.colorspace, cc.color_primaries, cc.color_trc = 1, 1, 1, 1  # BT.709
        a = out.add_stream("aac", rate=AUDIO_RATE)
        a.layout = "mono"
        a.bit_rate = 48000
        for i in range(CLIP_SECONDS * CLIP_FPS):
            frame = av.VideoFrame.from_ndarray(landscape(i / CLIP_FPS, rng), format="bgr24")
            frame.pts = i
            out.mux(v.encode(frame))
        out.mux(v.encode())
        sound = chord(CLIP_SECONDS)
        for k in range(0, sound.shape[1], 1024):
            f = av.AudioFrame.from_ndarray(np.ascontiguousarray(sound[:, k:k + 1024]),
                                           format="fltp", layout="mono")
            f.sample_rate, f.pts = AUDIO_RATE, k
            out.mux(a.encode(f))
        out.mux(a.encode())


def write_photo(path: Path) -> None:
    cv2.imwrite(str(path), still_life(), [cv2.IMWRITE_JPEG_QUALITY, 88])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder (default: beside me)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    write_clip(args.out / "sample.mp4")
    write_photo(args.out / "sample.jpg")
    for name in ("sample.mp4", "sample.jpg"):
        print(f"{args.out / name}: {(args.out / name).stat().st_size / 1e3:.0f} kB")


if __name__ == "__main__":
    main()
