"""The persisted records, in one place that imports no policy: a task's state and attempts, their
signals, usage and exit, the summaries lists show. What ``state.json`` holds is defined here and only
here; the modules that decide what happens next import these."""
