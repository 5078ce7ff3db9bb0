"""Codex Cloud as a headless command: the ``codex cloud exec | list | status | diff`` command lines
(:mod:`.commands`, with the validation of every value that reaches them, the child's environment and
its private working directory) and what those commands print (:mod:`.wire`: the task URL, ``list
--json``, the three ``status`` lines, the raw diff). How a failed call is classified lives with the
other failure classes, in :mod:`cockpit.core.policy.cloud_failures`.

The cockpit reads only ``codex cloud``'s output; it never talks to the cloud backend itself.
"""
