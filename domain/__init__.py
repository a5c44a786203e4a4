"""The pure rules of the CME process: intake forms, school-day calendar and grounds for deletion.

No Temporal and no I/O beyond reading configuration files, so that workflows, activities and
clients all share one set of rules.
"""
