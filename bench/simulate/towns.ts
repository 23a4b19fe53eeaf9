/**
 * Real towns and cities of England and Wales (centre coordinates, rounded). Subjects live
 * within a few kilometres of one of these; zones sit around them.
 */
export interface Town {
  name: string;
  lat: number;
  lon: number;
}

export const TOWNS: readonly Town[] = [
  { name: 'London', lat: 51.5074, lon: -0.1278 },
  { name: 'Birmingham', lat: 52.4862, lon: -1.8904 },
  { name: 'Manchester', lat: 53.4808, lon: -2.2426 },
  { name: 'Leeds', lat: 53.8008, lon: -1.5491 },
  { name: 'Liverpool', lat: 53.4084, lon: -2.9916 },
  { name: 'Sheffield', lat: 53.3811, lon: -1.4701 },
  { name: 'Bristol', lat: 51.4545, lon: -2.5879 },
  { name: 'Newcastle upon Tyne', lat: 54.9783, lon: -1.6178 },
  { name: 'Nottingham', lat: 52.9548, lon: -1.1581 },
  { name: 'Leicester', lat: 52.6369, lon: -1.1398 },
  { name: 'Coventry', lat: 52.4068, lon: -1.5197 },
  { name: 'Bradford', lat: 53.795, lon: -1.7594 },
  { name: 'Cardiff', lat: 51.4816, lon: -3.1791 },
  { name: 'Swansea', lat: 51.6214, lon: -3.9436 },
  { name: 'Newport', lat: 51.5842, lon: -2.9977 },
  { name: 'Wrexham', lat: 53.0466, lon: -2.993 },
  { name: 'Plymouth', lat: 50.3755, lon: -4.1427 },
  { name: 'Exeter', lat: 50.7184, lon: -3.5339 },
  { name: 'Southampton', lat: 50.9097, lon: -1.4044 },
  { name: 'Portsmouth', lat: 50.8198, lon: -1.088 },
  { name: 'Brighton', lat: 50.8225, lon: -0.1372 },
  { name: 'Norwich', lat: 52.6309, lon: 1.2974 },
  { name: 'Ipswich', lat: 52.0567, lon: 1.1482 },
  { name: 'Cambridge', lat: 52.2053, lon: 0.1218 },
  { name: 'Oxford', lat: 51.752, lon: -1.2577 },
  { name: 'Reading', lat: 51.4543, lon: -0.9781 },
  { name: 'Milton Keynes', lat: 52.0406, lon: -0.7594 },
  { name: 'Northampton', lat: 52.2405, lon: -0.9027 },
  { name: 'Peterborough', lat: 52.5695, lon: -0.2405 },
  { name: 'Hull', lat: 53.7676, lon: -0.3274 },
  { name: 'York', lat: 53.96, lon: -1.0873 },
  { name: 'Middlesbrough', lat: 54.5742, lon: -1.235 },
  { name: 'Sunderland', lat: 54.9069, lon: -1.3838 },
  { name: 'Carlisle', lat: 54.8925, lon: -2.9329 },
  { name: 'Preston', lat: 53.7632, lon: -2.7031 },
  { name: 'Blackpool', lat: 53.8175, lon: -3.0357 },
  { name: 'Stoke-on-Trent', lat: 53.0027, lon: -2.1794 },
  { name: 'Derby', lat: 52.9225, lon: -1.4746 },
  { name: 'Wolverhampton', lat: 52.5862, lon: -2.1288 },
  { name: 'Gloucester', lat: 51.8642, lon: -2.2382 },
  { name: 'Swindon', lat: 51.5558, lon: -1.7797 },
  { name: 'Bournemouth', lat: 50.7192, lon: -1.8808 },
  { name: 'Luton', lat: 51.8787, lon: -0.42 },
  { name: 'Lincoln', lat: 53.2307, lon: -0.5406 },
  { name: 'Bangor', lat: 53.2274, lon: -4.1293 },
  { name: 'Aberystwyth', lat: 52.4153, lon: -4.0829 },
  { name: 'Carmarthen', lat: 51.8576, lon: -4.3121 },
];
