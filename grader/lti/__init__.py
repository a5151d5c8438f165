"""LTI 1.3: courses launched from an LMS, grades passed back (AGS), rosters (NRPS)."""
