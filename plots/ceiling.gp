# plots/ceiling.gp: each kernel's time against the best this machine allows for its
# work: (time at the binding calibrated ceiling) / (median time), in percent. The
# ceiling that binds (exp rate, FMA rate or stream bandwidth, from `mbench calibrate`)
# is named in the legend; 100% is the ceiling.
# Variables: as time.gp, plus kbound (legend entries naming the binding ceiling).
load plotsdir."/style.gp"

set logscale x 2
set format x "%g"
set format y "%g%%"
set yrange [0:*]
set offsets graph 0.04, graph 0.04, graph 0.06, 0
set ylabel "time at the ceiling / median time (%)"
set title title_of(sprintf("Fraction of this machine's calibrated ceiling vs %s", axissym))

do for [fmt in "png svg"] {
    eval(term_cmd(fmt))
    set output outbase."-ceiling.".fmt
    plot 100 with lines dt 3 lw 1.5 lc rgb "#000000" title "calibrated ceiling (100%)", \
         for [i=1:nk] datafile index (i-1) using 1:8 with linespoints lw 1.3 pt kpt[i] ps 1.5 lc rgb kcolor[i] \
             title kbound[i]
    unset output
}
