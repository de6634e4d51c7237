"""Plan partners' observations: requests, opportunities, candidates, the planner."""
