# plots/style.gp: the look every mbench plot shares (loaded by the templates).
# term_cmd(fmt) gives the terminal for "png" (pngcairo) or "svg"; the same size and
# fonts for both, so the PNG and the SVG of a plot are the same figure.
term_cmd(fmt) = (fmt eq "png") \
    ? "set terminal pngcairo size 1300,900 enhanced font 'DejaVu Sans,13' linewidth 1.4 background '#ffffff'" \
    : "set terminal svg size 1300,900 enhanced font 'DejaVu Sans,13' linewidth 1.4 background '#ffffff'"

# "Title\nshape\nmachine[\nkernels not drawn]", the first line bold
title_of(what) = sprintf("{/:Bold %s}\n{/=11 %s}\n{/=11 %s}%s", what, shape, machine, \
                         strlen(note) > 0 ? sprintf("\n{/=10 %s}", note) : "")

set datafile missing "NaN"
set border 3 lw 1.2
set tics nomirror out
set grid xtics ytics mxtics mytics lw 0.6 lc rgb "#dddddd", lw 0.4 lc rgb "#eeeeee"
# the legend under the plot, so long entries (fitted exponents) never squeeze the data
set key outside below center horizontal maxcols 2 Left reverse box lc rgb "#bbbbbb" samplen 2.5 spacing 1.5 width -4 height 0.5
set bmargin 9
set xlabel xlabel
eval("set xtics ".xtics)
# a little room around the data, so no point sits on the border
set autoscale xfix
set autoscale yfix
set offsets graph 0.04, graph 0.04, graph 0.08, graph 0.08
