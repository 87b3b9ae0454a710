"""Pure profile rules: instruments, answers, scoring, sessions, schedules, time zones, journey."""
