"""The blackboard: where a board lives, its files and the records in them (task state, summaries, the task
index, decisions, checkpoints, hand-run sessions). What every other part reads and writes, and the format
that must not move under users' feet."""
