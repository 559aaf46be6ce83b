"""Benchmarks: Dial-A-Joke side by side with what users would otherwise pick, in one run."""
