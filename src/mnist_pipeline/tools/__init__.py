"""The tools that read what the pipeline committed: leaderboard, compare, sweep."""
