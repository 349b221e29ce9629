# bench/plot.gp: the benchmark's chart, from bench/run.sh's lifecycle.dat and list.dat.
# gnuplot -e "lifecycle='bench/results/lifecycle.dat'; list='bench/results/list.dat'; out='bench/results/lifecycle.png'" bench/plot.gp

if (!exists("lifecycle")) lifecycle = 'bench/results/lifecycle.dat'
if (!exists("list")) list = 'bench/results/list.dat'
if (!exists("out")) out = 'bench/results/lifecycle.png'

# 1000000 -> "1M", 10000 -> "10k"
hl(h) = h >= 1000000 ? sprintf("%gM", h / 1e6) : (h >= 1000 ? sprintf("%gk", h / 1e3) : sprintf("%g", h))

set terminal pngcairo size 1500,460 font "sans,10" noenhanced
set output out
set multiplot layout 1,3 title "batchstate benchmark: medians of the interleaved rounds, bars = min..max"
set grid ytics
set yrange [0:*]
set style fill solid 0.6 border -1
set boxwidth 0.6
set offsets 0.5, 0.5, 0, 0

# five approach names side by side: slanted, so that they do not overlap
set xtics rotate by -25
set title "batch lifecycle throughput by approach"
set ylabel "lifecycles/s (5 transactions each)"
set xlabel "approach"
plot lifecycle using 1:3:xtic(2) with boxes lc rgb "#4e79a7" notitle, \
     '' using 1:3:4:5 with yerrorbars lc rgb "black" pt 7 ps 0.4 notitle, \
     '' using 1:($3 / 2):(sprintf("%.0f", $3)) with labels notitle

set title "server CPU per lifecycle (lower is better)"
set ylabel "microseconds of backend CPU per lifecycle"
set xlabel "approach"
plot lifecycle using 1:6:xtic(2) with boxes lc rgb "#59a14f" notitle, \
     '' using 1:($6 / 2):(sprintf("%.0f", $6)) with labels notitle

set xtics norotate
set title "list_batches on a queue of 100 live batches"
set ylabel "list_batches calls/s"
set xlabel "finished batches of history"
plot list using 1:3:xtic(hl($2)) with boxes lc rgb "#f28e2b" notitle, \
     '' using 1:3:4:5 with yerrorbars lc rgb "black" pt 7 ps 0.4 notitle, \
     '' using 1:($3 / 2):(sprintf("%.0f", $3)) with labels notitle

unset multiplot
