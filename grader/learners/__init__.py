"""What learners see of their results: best scores, totals, progress, profiles, leaderboards."""
