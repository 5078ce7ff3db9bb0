"""What several tests share: boards, scripted Codex runs, pilots and fixtures, imported by name as
``tests.helpers.<module>``."""
