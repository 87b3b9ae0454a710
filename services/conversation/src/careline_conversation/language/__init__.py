"""Which language a caregiver writes in: the detector (``detector``) and its evaluation
(``evaluation``, run by ``make eval``). What the line does with it is ``domain.language``'s."""
