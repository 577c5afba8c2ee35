"""The sweep's cost, planned before it runs: tokens per example measured on each run's training
data, batches as the trainer makes them, a throughput table per GPU kind, GPU-hours per run."""
