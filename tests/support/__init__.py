"""What tests share: real servers on loopback, test partners, example applications,
clocks a test moves, and the attacker's and console's tools.

``tests/`` is on ``sys.path`` (pytest's rootdir conftest), so tests import these as
``support.<module>``. Fixtures stay in the ``conftest.py`` files, where pytest finds them.
"""
