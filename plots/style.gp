# plots/style.gp: the look every mbench plot shares (loaded by the templates).
# term_cmd(fmt) gives the terminal for "png" (pngcairo) or "svg"; the same size and
# fonts for both, so the PNG and the SVG of a plot are the same figure.
term_cmd(fmt) = (fmt eq "png") \
    ? "set terminal pngcairo size 1400,820 enhanced font 'DejaVu Sans,13' linewidth 1.4 background '#ffffff'" \
    : "set terminal svg size 1400,820 enhanced font 'DejaVu Sans,13' linewidth 1.4 background '#ffffff'"

# "Title\nshape\nmachine", the first line bold
title_of(what) = sprintf("{/:Bold %s}\n{/=11 %s}\n{/=11 %s}", what, shape, machine)

set datafile missing "NaN"
set border 3 lw 1.2
set tics nomirror out
set grid xtics ytics mxtics mytics lw 0.6 lc rgb "#dddddd", lw 0.4 lc rgb "#eeeeee"
set key outside right top vertical Left reverse box lc rgb "#bbbbbb" samplen 2.5 spacing 1.3 width 1
set xlabel xlabel
eval("set xtics ".xtics)
set bmargin 6
# a little room around the data, so no point sits on the border
set autoscale xfix
set autoscale yfix
set offsets graph 0.04, graph 0.04, graph 0.08, graph 0.08
if (strlen(note) > 0) set label 99 note at screen 0.01, 0.025 left font ",10" tc rgb "#555555"
