"""Evaluation of trained and exported models: `rtstyle eval` and the measures behind it.

It sits above the others: it may import `rt_style` (the engine that runs the shipped file),
`train` (VGG-19, the losses, the data helpers) and `export`; none of them imports it.

- adjustability: the loss side, each α component swept against its own layer's loss;
- picture_side: what a person sees when the sliders move, in 8-bit levels;
- artefacts: a line along a frame border and a grid at the strides, against the photo's own;
- diversity, quality: random-α spread, and the network against per-image optimisation;
- temporal: flicker as the warping error over the input's own (torch-free);
- stages, report, model_card, plots: the `rtstyle eval` command (cli) built from them.
"""
