"""Plan partners' observations: requests, opportunities, the planner, the SPOT5 benchmark."""
