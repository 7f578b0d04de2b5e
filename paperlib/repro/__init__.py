"""Paper-agnostic reproduction machinery: registry, runner, in-notebook record, claims, report.

Nothing here knows any paper beyond what ``reproductions/<paper>/`` declares.
"""
