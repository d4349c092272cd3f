# plots/counters.gp: cache misses per state update vs the swept axis, one colour per
# kernel, log-log. Solid: last-level misses per update from valgrind's cache simulation
# (column 13; the simulated LL is in points.csv's sim_ll, see docs/counters.md); dashed:
# D1 misses per update from the same simulation (14); dotted: hardware LLC misses per
# update from PAPI where the machine has counters (15). Zero misses cannot be drawn on a
# log axis and are left out.
# Variables: as time.gp (datafile, outbase, nk, kname, kcolor, kpt, axissym, ...), plus
# cntsim and cnthw (1 when simulated / hardware values exist).
load plotsdir."/style.gp"

set logscale x 2
set logscale y 10
set format x "%g"
set format y "10^{%L}"
set ylabel "misses per state update"
lines = (cntsim ? "solid: last-level misses, dashed: D1 misses (valgrind cache simulation)" : "") . \
        (cntsim && cnthw ? ";  " : "") . (cnthw ? "dotted: LLC misses (PAPI)" : "")
set title title_of(sprintf("Cache misses per state update vs %s\n{/:Normal=11 %s}", axissym, lines))
set autoscale y
set key width 2
pos(v) = (v > 0 ? v : NaN)

do for [fmt in "png svg"] {
    eval(term_cmd(fmt))
    set output outbase."-counters.".fmt
    plot for [i=1:nk] keyentry with linespoints lw 1.6 pt kpt[i] ps 1.4 lc rgb kcolor[i] title kname[i], \
         for [i=1:(cntsim ? nk : 0)] datafile index (i-1) using 1:(pos($13)) with linespoints lw 1.6 pt kpt[i] ps 1.4 \
             lc rgb kcolor[i] notitle, \
         for [i=1:(cntsim ? nk : 0)] datafile index (i-1) using 1:(pos($14)) with linespoints dt (8,6) lw 1.2 \
             pt kpt[i]-1 ps 1.1 lc rgb kcolor[i] notitle, \
         for [i=1:(cnthw ? nk : 0)] datafile index (i-1) using 1:(pos($15)) with linespoints dt 3 lw 1.2 pt kpt[i] \
             ps 1.0 lc rgb kcolor[i] notitle
    unset output
}
