"""定损理赔: the party's claim to its compulsory insurer and the insurer's progress.

Importing the package tells case access which cases an insurer sees: those it holds a claim on.
"""

from kuaichu.cases.access import register_insurer_scope
from kuaichu.claims.models import insurer_scope

register_insurer_scope(insurer_scope)
