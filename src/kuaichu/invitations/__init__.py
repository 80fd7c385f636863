"""The other parties join from their own phones (issue 12).

A case in a call has one join link at a time: the party page's address with a random token in its
fragment, shown as a QR code on the reporting party's screen and sent by the operator in a fixed
SMS. Whoever opens it logs in with an SMS code like any party and waits; the operator on the
call admits them as the case's next party (within the jurisdiction's number of vehicles) or
refuses them. Until admitted, the link's holder reads nothing of the case.
"""
