"""Backend-specific training steps of TwinModel: one small module per backend."""
