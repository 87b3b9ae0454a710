"""Careline's conversation service: the caregiver's SMS line.

Where things are:

- ``app.py``: the composition root (the unit of work, the real adapters, settings);
- ``subscribers.py``: every subject, job type and retry policy, and the handler each runs;
- ``handlers.py``: the message handlers, each one transaction on the unit of work, and
  ``Services``, what they use besides it (SMS sender, agent, limits, job progress);
- ``sending.py``: the ``sms.send``, ``summary.refresh`` and ``crisis.follow_up`` jobs;
- ``paging.py`` and ``alert_admin.py``: crisis alert jobs and staff's admin operations;
- ``backfill.py``: conversation's slice of a legacy backfill;
- ``repository.py`` and ``alerts_repository.py``: the Writer/Reader protocols and their
  MongoDB classes (the service's own database only);
- ``domain/``: pure rules (the turn, onboarding, replies, rate limits, resources, paging
  decisions, the roster); ``safety/``: the crisis detector and its catalogues, its own package
  because it carries data files and an evaluation set;
- ``integrations/``: the SMS provider (Twilio, the sandbox). The AI agents stay in ``agents/``:
  an agent is an integration of its own (OpenAI) plus the rules agent and the fallback that
  guards it, one interface (``Agent``) that ``handlers`` and ``sending`` depend on.
"""
