"""保险公司坐席: an insurer's agents invited into a live call, to see and speak but not to edit.

Importing the package tells case access which cases an agent sees: those their insurer was
invited into or holds a claim on.
"""

from kuaichu.cases.access import register_agent_scope
from kuaichu.seats.service import agent_scope

register_agent_scope(agent_scope)
