# plots/speedup.gp: speedup of each kernel over the sequential kernel at the same point
# (sequential median / kernel median), log-log. The baseline is drawn at 1 with its
# absolute median time written at each point, so the ratio never hides the time.
# Variables: as time.gp, plus ib (the block of the sequential baseline), symin,
# symax, sytics (its y range and tics).
load plotsdir."/style.gp"

set logscale x 2
set logscale y 2
set format x "%g"
set format y "%g×"
set yrange [symin:symax]
eval("set ytics ".sytics)
set ylabel "speedup over sequential (higher is faster)"
set title title_of(sprintf("Speedup over the sequential kernel vs %s", axissym))

do for [fmt in "png svg"] {
    eval(term_cmd(fmt))
    set output outbase."-speedup.".fmt
    plot datafile index (ib-1) using 1:(1.0) with lines lw 1.5 lc rgb kcolor[ib] \
             title sprintf("%s = baseline (its median time labelled)", kname[ib]), \
         datafile index (ib-1) using 1:(1.0):(sprintf("%.3g %s", $2*tscale, tunit)) \
             with labels offset 0, -1.1 font ",10" tc rgb kcolor[ib] notitle, \
         for [i=1:nk] datafile index (i-1) using 1:(i == ib ? NaN : $6) \
             with linespoints lw 1.3 pt kpt[i] ps 1.5 lc rgb kcolor[i] title (i == ib ? "" : kname[i])
    unset output
}
