"""Rounds, respondents and answers: everything between an invitation link and a submission."""
