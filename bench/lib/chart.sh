# shellcheck shell=bash
# bench/lib/chart.sh: the chart, lifecycle.png, drawn by gnuplot with
# bench/plot.gp from lifecycle.dat and list.dat (none when gnuplot is missing).

# chart: lifecycle.png from this run's lifecycle.dat and list.dat (when it has both)
chart() {
	((HAVE_GNUPLOT)) || return 0
	# the chart draws both phases (--only may have left one out)
	[ -s "$OUT/lifecycle.dat" ] && [ -s "$OUT/list.dat" ] || return 0
	gnuplot -e "lifecycle='$OUT/lifecycle.dat'; list='$OUT/list.dat'; out='$OUT/lifecycle.png'" \
		"$BENCH/plot.gp" >"$OUT/raw/gnuplot.log" 2>&1 || {
		cat "$OUT/raw/gnuplot.log" >&2
		die "gnuplot failed"
	}
	say "chart: $OUT/lifecycle.png"
}
