"""bnnflow.reference: the executable specification (pure numpy) of every op of the engine.

See docs/numerics.md. Never imports torch.
"""
