"""The converter's passes, one per file, each ``run(graph, ...) -> None`` rewriting an
:class:`~bnnflow.convert.lgraph.LGraph` in place (docs/conversion.md)."""
