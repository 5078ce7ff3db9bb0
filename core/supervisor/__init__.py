"""The supervisor: the loop that accepts, dispatches, follows and settles attempts, and recovers after
a crash."""
