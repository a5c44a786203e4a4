"""Alembic migrations of the case register (:mod:`activities.register`); run them with
:func:`activities.register.upgrade_register` or ``cme register upgrade``."""
