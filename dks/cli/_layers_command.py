"""``dks layers MODEL``: the layers a model offers to ``--layers``, with output shapes.

:func:`add_layers_command` adds the command to the parser of :mod:`dks.cli`; it sets
``run``, the function :func:`dks.cli.main` calls with the parsed arguments.
"""

__all__ = ["add_layers_command"]


def add_layers_command(commands, common, epilog):
    """``dks layers MODEL``: the layers a model offers to --layers, with output shapes."""
    cmd = commands.add_parser(
        "layers",
        parents=[common],
        help="the layers of a model that --layers accepts, with output shapes",
        description="List the layers of MODEL that can be embedded (--layers of `dks "
        "analyze`), in network order, with the output shape of one image, the number of "
        "features, and '*' on the layers of --layers paper. No weights are downloaded.",
        epilog=epilog,
    )
    cmd.add_argument(
        "model",
        metavar="MODEL",
        help="vgg19, efficientnet_lite0, a torchvision model name (resnet50, ...) or a timm "
        "model as timm/<name> (timm/convnext_tiny, ...)",
    )
    cmd.add_argument(
        "--input-size",
        type=int,
        metavar="N",
        help="side of the input crop (default: the model's own input size)",
    )
    cmd.add_argument(
        "--tokens",
        choices=("mean", "cls", "both"),
        default="mean",
        help="reduction of vision-transformer tokens, for the feature counts "
        "(default: %(default)s)",
    )
    cmd.add_argument("--paper", action="store_true", help="list only the layers of --layers paper")
    cmd.set_defaults(run=_print_layers)


def _print_layers(args):
    from dks.embed import describe_layers

    if args.input_size is not None and args.input_size < 1:
        args.usage_error(
            f"argument --input-size: expected a positive integer, got {args.input_size}"
        )

    layers = describe_layers(args.model, input_size=args.input_size, tokens=args.tokens)
    if args.paper:
        layers = [layer for layer in layers if layer.paper]
    rows = [
        (
            "*" if layer.paper else "",
            layer.name if layer.name == layer.module else f"{layer.name} ({layer.module})",
            layer.kind,
            "x".join(map(str, layer.shape)),
            str(layer.n_features),
        )
        for layer in layers
    ]
    header = ("", "layer", "type", "output", "features")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    if not args.quiet:
        paper = [layer for layer in layers if layer.paper]
        total = sum(layer.n_features for layer in paper)
        print(
            f"{len(layers)} layers; * = --layers paper ({len(paper)} layers, {total} features)"
            if paper
            else f"{len(layers)} layers; --layers paper is not defined for {args.model}"
        )
