"""Team results: computing, storing and reading a round's result (typed: ``model.TeamResult``)."""
