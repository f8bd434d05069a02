"""A country of provinces: the status export a deployment sends upward, and the national view merged from them."""
