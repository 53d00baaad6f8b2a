"""The team lead's workspace: rounds, invitation links, results, targets and adopted practices."""
