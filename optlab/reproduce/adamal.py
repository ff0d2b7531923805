"""(claims to come)"""

CLAIMS = []
