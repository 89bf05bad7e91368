"""SMPP 3.4 command_status values (section 5.1.3) and their names.

Plain ``int`` constants rather than an ``IntEnum``: statuses are compared on
the hot path and peers send values outside the spec (vendor ranges 0x400+),
which an enum could not represent without a lookup that may fail.
"""

from __future__ import annotations

ESME_ROK = 0x00000000
ESME_RINVMSGLEN = 0x00000001
ESME_RINVCMDLEN = 0x00000002
ESME_RINVCMDID = 0x00000003
ESME_RINVBNDSTS = 0x00000004
ESME_RALYBND = 0x00000005
ESME_RINVPRTFLG = 0x00000006
ESME_RINVREGDLVFLG = 0x00000007
ESME_RSYSERR = 0x00000008
ESME_RINVSRCADR = 0x0000000A
ESME_RINVDSTADR = 0x0000000B
ESME_RINVMSGID = 0x0000000C
ESME_RBINDFAIL = 0x0000000D
ESME_RINVPASWD = 0x0000000E
ESME_RINVSYSID = 0x0000000F
ESME_RCANCELFAIL = 0x00000011
ESME_RREPLACEFAIL = 0x00000013
ESME_RMSGQFUL = 0x00000014
ESME_RINVSERTYP = 0x00000015
ESME_RINVNUMDESTS = 0x00000033
ESME_RINVDLNAME = 0x00000034
ESME_RINVDESTFLAG = 0x00000040
ESME_RINVSUBREP = 0x00000042
ESME_RINVESMCLASS = 0x00000043
ESME_RCNTSUBDL = 0x00000044
ESME_RSUBMITFAIL = 0x00000045
ESME_RINVSRCTON = 0x00000048
ESME_RINVSRCNPI = 0x00000049
ESME_RINVDSTTON = 0x00000050
ESME_RINVDSTNPI = 0x00000051
ESME_RINVSYSTYP = 0x00000053
ESME_RINVREPFLAG = 0x00000054
ESME_RINVNUMMSGS = 0x00000055
ESME_RTHROTTLED = 0x00000058
ESME_RINVSCHED = 0x00000061
ESME_RINVEXPIRY = 0x00000062
ESME_RINVDFTMSGID = 0x00000063
ESME_RX_T_APPN = 0x00000064
ESME_RX_P_APPN = 0x00000065
ESME_RX_R_APPN = 0x00000066
ESME_RQUERYFAIL = 0x00000067
ESME_RINVOPTPARSTREAM = 0x000000C0
ESME_ROPTPARNOTALLWD = 0x000000C1
ESME_RINVPARLEN = 0x000000C2
ESME_RMISSINGOPTPARAM = 0x000000C3
ESME_RINVOPTPARAMVAL = 0x000000C4
ESME_RDELIVERYFAILURE = 0x000000FE
ESME_RUNKNOWNERR = 0x000000FF

# Statuses after which sending the same PDU again can succeed without changing
# it: the peer is overloaded, briefly failing, or asked us to try later. The
# rest describe the message or the bind and will fail again identically.
RETRYABLE_STATUSES: frozenset[int] = frozenset(
    {
        ESME_RINVBNDSTS,  # usually a race with a re-bind on the SMSC side
        ESME_RSYSERR,
        ESME_RMSGQFUL,
        ESME_RSUBMITFAIL,  # SMSCs use it for transient internal failures
        ESME_RTHROTTLED,
        ESME_RX_T_APPN,
        ESME_RDELIVERYFAILURE,
        ESME_RUNKNOWNERR,
    }
)

# Answers that mean "slow down", not "this message is bad": the client pauses
# the bind and resends instead of failing the submit.
THROTTLE_STATUSES: frozenset[int] = frozenset({ESME_RTHROTTLED, ESME_RMSGQFUL})

# Bind refusals that will repeat until someone changes the configuration.
CREDENTIAL_STATUSES: frozenset[int] = frozenset({ESME_RINVPASWD, ESME_RINVSYSID, ESME_RBINDFAIL})

_NAMES: dict[int, str] = {
    value: name
    for name, value in globals().items()
    if name.startswith("ESME_R") and isinstance(value, int)
}


def status_name(status: int) -> str:
    """``ESME_RTHROTTLED`` for 0x58; a hex literal for values outside the spec."""
    return _NAMES.get(status, f"0x{status:08X}")
