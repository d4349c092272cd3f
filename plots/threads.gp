# plots/threads.gp: strong scaling. Left: speedup of each kernel over itself at the
# fewest threads (its time there is in the legend), with the ideal line (speedup =
# threads / base threads). Right: parallel efficiency = speedup x base / threads, with
# the ideal 100%.
# Variables: as time.gp, plus kthreads (legend entries naming each kernel's baseline)
# and tbase (the fewest threads measured).
load plotsdir."/style.gp"

set format x "%g"
set key inside left top opaque   # two panels: the legends stay inside them
set bmargin                      # (automatic: no legend under the panels)
set offsets graph 0.04, graph 0.04, graph 0.06, 0

do for [fmt in "png svg"] {
    eval(term_cmd(fmt))
    set output outbase."-threads.".fmt
    set multiplot layout 1, 2 title title_of("Strong scaling: speedup and parallel efficiency vs threads")
    set key inside left top opaque
    set title "speedup over the same kernel at the fewest threads"
    set ylabel "speedup (×)"
    set yrange [0:*]
    plot x / tbase with lines dt 3 lw 1.5 lc rgb "#000000" title "ideal", \
         for [i=1:nk] datafile index (i-1) using 1:10 with linespoints lw 1.3 pt kpt[i] ps 1.5 lc rgb kcolor[i] \
             title kthreads[i]
    set title "parallel efficiency"
    set ylabel "efficiency (%)"
    set yrange [0:110]
    set key inside left bottom opaque
    plot 100 with lines dt 3 lw 1.5 lc rgb "#000000" title "ideal (100%)", \
         for [i=1:nk] datafile index (i-1) using 1:11 with linespoints lw 1.3 pt kpt[i] ps 1.5 lc rgb kcolor[i] \
             title kname[i]
    unset multiplot
    unset output
}
