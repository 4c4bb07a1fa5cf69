# agent.tcl — a secure-agent call through plain OpenOCD memory accesses, the way a
# station does it (docs/protocols.md): fill the parameter block, acquire IPC_STRUCT8,
# notify IPC_INTR_STRUCT0, poll LOCK_STATUS, read the result. The agent's firmware runs
# on the CM0+ and polls for the call: the core must be left running (not halted, not
# parked in a loop of OpenOCD's).
set IPC8 0x40230100
set INTR0_MASK 0x40231008
set BLK 0x08046000

proc rd32 {addr} { return [lindex [read_memory $addr 32 1] 0] }

# agent_call OP INFILE INLEN OUTFILE POLLS: echoes "STATUS 0x..." and "OUTLEN n"
proc agent_call {op infile inlen outfile polls} {
	global IPC8 INTR0_MASK BLK
	mww $BLK [expr {$op << 24}]
	mww [expr {$BLK + 4}] 0
	mww [expr {$BLK + 8}] $inlen
	if {$inlen > 0} { load_image $infile [expr {$BLK + 16}] bin }
	set acq [rd32 $IPC8]
	if {($acq & 0x80000000) == 0} { echo "ACQUIRE FAILED"; return }
	mww [expr {$IPC8 + 0xC}] $BLK
	mww $INTR0_MASK [expr {1 << 24}]
	mww [expr {$IPC8 + 0x8}] 1
	set released 0
	for {set i 0} {$i < $polls} {incr i} {
		if {[catch {set lock [rd32 [expr {$IPC8 + 0x10}]]}]} { echo "POLL FAILED"; return }
		if {($lock & 0x80000000) == 0} { set released 1; break }
	}
	if {!$released} { echo "STILL LOCKED after $polls polls"; return }
	set st [rd32 [expr {$BLK + 4}]]
	set n [rd32 [expr {$BLK + 12}]]
	echo [format "STATUS 0x%08X" $st]
	echo "OUTLEN $n"
	if {$n > 0} { dump_image $outfile [expr {$BLK + 16}] $n }
}
