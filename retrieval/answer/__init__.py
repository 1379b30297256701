"""Question to answer: the service every front end calls, the extractive answer stage and
the answer types that form the public JSON contract."""
