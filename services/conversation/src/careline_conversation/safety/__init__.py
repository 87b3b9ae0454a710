"""Safety and SMS rules that never depend on AI: crisis detection, STOP/HELP/START, segment sizing."""
