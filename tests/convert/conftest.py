"""Converter tests run tiny models: one torch thread avoids oversubscribing shared cores."""

import torch

torch.set_num_threads(1)
