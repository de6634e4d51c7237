"""Schedule the pooled ground network fairly: problem model, solvers, checks (pure)."""
