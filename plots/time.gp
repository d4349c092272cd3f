# plots/time.gp: median time per call vs the swept axis, one series per kernel, log-log.
# Bars: 95% CI of the median (order statistics); dashed: the fitted power law, whose
# exponent k (± standard error) the legend gives as "t ~ x^k"; hollow points: CV > 5%.
# Variables come from <stem>.vars.gp (written by `mbench plot`): datafile, outbase,
# shape, machine, direction, xlabel, xtics, axissym, tscale, tunit, nk, kname, kcolor, kpt, ktime,
# noisy, note, plotsdir, tymin, tymax, tytics. Data columns: see plots/README.md.
load plotsdir."/style.gp"

set logscale x 2
set logscale y 10
set format x "%g"
set format y "%g"
set yrange [tymin:tymax]
eval("set ytics ".tytics)
set ylabel sprintf("median time per call (%s)", tunit)
set title title_of(sprintf("Selective scan, %s: time vs %s", direction, axissym))

do for [fmt in "png svg"] {
    eval(term_cmd(fmt))
    set output outbase."-time.".fmt
    plot for [i=1:nk] keyentry with linespoints dt (8,6) lw 1.3 pt kpt[i] ps 1.5 lc rgb kcolor[i] title ktime[i], \
         for [i=1:nk] datafile index (i-1) using 1:($9*tscale) with lines dt (8,6) lw 1.3 lc rgb kcolor[i] notitle, \
         for [i=1:nk] datafile index (i-1) using 1:($5 == 0 ? $2*tscale : NaN):($3*tscale):($4*tscale) \
             with yerrorbars lw 1.3 pt kpt[i] ps 1.5 lc rgb kcolor[i] notitle, \
         for [i=1:nk] datafile index (i-1) using 1:($5 == 1 ? $2*tscale : NaN):($3*tscale):($4*tscale) \
             with yerrorbars lw 1.3 pt kpt[i]-1 ps 1.5 lc rgb kcolor[i] notitle, \
         for [i=1:(noisy ? 1 : 0)] keyentry with points pt 6 ps 1.5 lc rgb "#555555" title "hollow: CV > 5% or disturbed"
    unset output
}
