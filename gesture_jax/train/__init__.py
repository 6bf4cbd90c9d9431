"""Fine-tuning: optimiser and schedules, train step, checkpoints, logs."""
