"""Training loops: a reusable base (device, DDP, checkpoints, resume, curves) and task trainers."""
